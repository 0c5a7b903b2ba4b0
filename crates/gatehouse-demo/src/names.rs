//! Embedded first and last names. Every name is ASCII letters only, so e-mail local parts are
//! `first.last` in lowercase; about 290 x 600 combinations, disambiguated with a number.

const FIRST: &str = "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David \
Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Nancy Daniel Lisa \
Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna \
Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah Ronald \
Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas \
Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole Brandon \
Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Patrick \
Carolyn Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie \
Adam Olivia Nathan Joyce Henry Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina \
Ethan Joan Walter Evelyn Noah Judith Jeremy Megan Christian Andrea Keith Cheryl Roger Hannah Terry \
Jacqueline Gerald Martha Harold Gloria Sean Teresa Austin Ann Carl Sara Arthur Madison Lawrence \
Frances Dylan Kathryn Jesse Janice Jordan Jean Bryan Abigail Billy Alice Joe Julia Bruce Judy \
Gabriel Sophia Logan Grace Albert Denise Willie Amber Alan Doris Juan Marilyn Wayne Danielle Elijah \
Beverly Randy Isabella Roy Theresa Vincent Diana Ralph Natalie Eugene Brittany Russell Charlotte \
Bobby Marie Mason Kayla Philip Alexis Louis Lori Aisha Priya Wei Mei Hiroshi Yuki Carlos Sofia Ahmed \
Fatima Ravi Ananya Lars Ingrid Pierre Amelie Mateo Lucia Omar Leila Kwame Amara Dmitri Olga Chen Jin \
Arjun Kavya Luca Giulia Hugo Elena Felix Nora Tobias Freya Rohan Meera Sven Astrid Mohammed Yasmin \
Kenji Sakura Diego Valeria Tariq Zara Emeka Ngozi Ivan Katya Marco Chiara Jonas Lena Nikhil Divya";

const LAST: &str = "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez \
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White \
Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill \
Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans \
Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez \
Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks \
Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long \
Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes \
Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin \
Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford \
Castro Marshall Owens Harrison Fernandez Mcdonald Woods Washington Kennedy Wells Vargas Henry Chen \
Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw \
Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox \
Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner \
Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley \
Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado \
Berry Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval \
Guerrero George Chapman Rios Estrada Ortega Watkins Greene Nunez Wheeler Valdez Harper Burke Larson \
Santiago Maldonado Morrison Franklin Carlson Austin Dominguez Carr Lawson Jacobs Obrien Lynch Singh \
Vega Bishop Montgomery Oliver Jensen Harvey Williamson Gilbert Dean Sims Espinoza Howell Li Wong Reid \
Hanson Le Mccoy Garrett Burton Fuller Wang Weber Welch Rojas Lucas Marquez Fields Park Yang Little \
Banks Padilla Day Walsh Bowman Schultz Luna Fowler Mejia Davidson Acosta Brewer May Holland Juarez \
Newman Pearson Curtis Cortez Douglas Schneider Joseph Barrett Navarro Figueroa Keller Avila Wade \
Molina Stanley Hopkins Campos Barnett Bates Chambers Caldwell Beck Lambert Miranda Byrd Craig Ayala \
Lowe Frazier Powers Neal Leonard Gregory Carrillo Sutton Fleming Rhodes Shelton Schwartz Norris \
Jennings Watts Duran Walters Cohen Mcdaniel Moran Parks Steele Vaughn Becker Holt Deleon Barker \
Terry Hale Leon Benson Haynes Horton Miles Lyons Pham Graves Bush Thornton Wolfe Warner Cabrera \
Mckinney Mann Zimmerman Dawson Lara Fletcher Page Mccarthy Love Robles Cervantes Solis Erickson \
Reeves Chang Klein Salinas Fuentes Baldwin Daniel Simon Velasquez Hardy Higgins Aguirre Lin Cummings \
Chandler Sharp Barber Bowen Ochoa Dennis Robbins Liu Ramsey Francis Griffith Paul Blair Oconnor \
Cardenas Pacheco Cross Calderon Quinn Moss Swanson Chan Rivas Khan Rodgers Serrano Fitzgerald \
Rosales Stevenson Christensen Manning Gill Curry Mclaughlin Harmon Mcgee Gross Doyle Garner Newton \
Burgess Reese Walton Blake Trujillo Adkins Brady Goodman Roman Webster Goodwin Fischer Huang Potter \
Delacruz Montoya Todd Wu Hines Mullins Castaneda Malone Cannon Tate Mack Sherman Hubbard Hodges \
Zhang Guerra Wolf Valencia Saunders Franco Rowe Gallagher Farmer Hammond Hampton Townsend Ingram \
Wise Gallegos Clarke Barton Schroeder Maxwell Waters Logan Camacho Strickland Norman Person Colon \
Parsons Frank Harrington Glover Osborne Buchanan Casey Floyd Patton Ibarra Ball Tyler Suarez Bowers \
Orozco Salas Cobb Gibbs Andrade Bauer Conner Moody Escobar Mcguire Lloyd Mueller Hartman French \
Kramer Mcbride Pope Lindsey Velazquez Norton Mccormick Sparks Flynn Yates Hogan Marsh Macias \
Villanueva Zamora Pratt Stokes Owen Ballard Lang Brock Villarreal Charles Drake Barrera Cain Patrick \
Pineda Burnett Mercado Santana Shepherd Bautista Ali Shaffer Lamb Trevino Mckenzie Hess Olsen \
Cochran Morton Nash Wilkins Petersen Briggs Shah Roth Nicholson Holloway Lozano Rangel Flowers \
Hoover Short Arias Mora Valenzuela Bryan Meyers Weiss Underwood Bass Greer Summers Houston Carson \
Morrow Clayton Whitaker Decker Yoder Collier Zuniga Carey Wilcox Melendez Poole Roberson Larsen \
Conley Davenport Copeland Massey Lam Huff Rocha Cameron Jefferson Hood Monroe Anthony Pittman Huynh \
Randall Singleton Kirk Combs Mathis Christian Skinner Bradford Richard Galvan Wall Boone Kirby \
Wilkinson Bridges Bruce Atkinson Velez Meza Roy Vincent York Hodge Villa Abbott Allison Tapia Gates \
Chase Sosa Sweeney Farrell Wyatt Dalton Horn Barron Phelps Yu Dickerson Heath Foley Atkins Mathews \
Bonilla Acevedo Benitez Zavala Hensley Glenn Cisneros Harrell Shields Rubio Huber Choi Boyle \
Okafor Mensah Nakamura Tanaka Suzuki Sato Kowalski Novak Horvat Petrov Ivanova Lindqvist Berg \
Nielsen Haugen Virtanen Rossi Ferrari Esposito Bianchi Romano Dubois Lefebvre Moreau Laurent \
Fontaine Schulz Hoffmann Krause Vogel Braun Keller Hartmann Iyer Reddy Menon Rao Nair Kapoor";

/// The name lists, deduplicated, with lowercase forms for e-mail addresses.
pub(crate) struct Names {
    pub first: Vec<&'static str>,
    pub last: Vec<&'static str>,
    pub first_lower: Vec<String>,
    pub last_lower: Vec<String>,
}

fn unique(list: &'static str) -> Vec<&'static str> {
    let mut seen = std::collections::HashSet::new();
    list.split_whitespace()
        .filter(|n| seen.insert(*n))
        .collect()
}

impl Names {
    pub fn new() -> Names {
        let first = unique(FIRST);
        let last = unique(LAST);
        Names {
            first_lower: first.iter().map(|n| n.to_ascii_lowercase()).collect(),
            last_lower: last.iter().map(|n| n.to_ascii_lowercase()).collect(),
            first,
            last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_ascii_names() {
        let n = Names::new();
        assert!(n.first.len() * n.last.len() >= 100_000);
        for name in n.first.iter().chain(&n.last) {
            assert!(name.bytes().all(|b| b.is_ascii_alphabetic()), "{name}");
        }
    }
}
